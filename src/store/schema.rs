//! The tables, shared by both backends (the migrations keep them identical).

diesel::table! {
    org_units (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<Text>,
        entity_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    posts (id) {
        id -> Text,
        code -> Text,
        org_unit_id -> Text,
        designation -> Text,
        title -> Text,
        reports_to -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        name -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        clearance -> Text,
        disabled -> Bool,
        token_version -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    post_assignments (id) {
        id -> Text,
        post_id -> Text,
        user_id -> Text,
        kind -> Text,
        is_primary -> Bool,
        starts_on -> Text,
        ends_on -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    user_roles (id) {
        id -> Text,
        user_id -> Text,
        role -> Text,
        entity_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(posts -> org_units (org_unit_id));
diesel::joinable!(post_assignments -> posts (post_id));
diesel::joinable!(post_assignments -> users (user_id));
diesel::joinable!(user_roles -> users (user_id));

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        token_version -> BigInt,
        created_at -> BigInt,
        last_used_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        kind -> Text,
        user_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        username -> Nullable<Text>,
        ip -> Nullable<Text>,
        details -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::table! {
    serials (scope, year) {
        scope -> Text,
        year -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    files (id) {
        id -> Text,
        file_no -> Text,
        head -> Text,
        serial -> BigInt,
        year -> Integer,
        subject -> Text,
        classification -> Text,
        priority -> Text,
        urgency -> Integer,
        status -> Text,
        due_at -> Nullable<BigInt>,
        section_id -> Text,
        entity_id -> Nullable<Text>,
        created_by_post -> Text,
        created_by_user -> Text,
        holder_post_id -> Text,
        last_movement_id -> Nullable<Text>,
        last_from_post -> Nullable<Text>,
        last_opened_at -> Nullable<BigInt>,
        held_since -> BigInt,
        referred_by_post -> Nullable<Text>,
        workflow_id -> Nullable<Text>,
        workflow_step -> Nullable<Integer>,
        next_note_seq -> BigInt,
        next_move_seq -> BigInt,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    file_routes (file_id) {
        file_id -> Text,
        workflow_id -> Text,
        hash -> Text,
        fields -> Text,
        state -> Text,
        step -> Nullable<Integer>,
        post_id -> Nullable<Text>,
        step_since -> Nullable<BigInt>,
        step_due_at -> Nullable<BigInt>,
        entry -> BigInt,
    }
}

diesel::table! {
    document_texts (document_id) {
        document_id -> Text,
        status -> Text,
        text -> Text,
        extracted_at -> BigInt,
    }
}

diesel::table! {
    workflow_versions (hash) {
        hash -> Text,
        workflow_id -> Text,
        definition -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    concurrences (id) {
        id -> Text,
        file_id -> Text,
        step_entry -> BigInt,
        step -> Integer,
        entity_code -> Text,
        post_id -> Text,
        status -> Text,
        asked_at -> BigInt,
        due_at -> BigInt,
        answered_at -> Nullable<BigInt>,
        answered_by -> Nullable<Text>,
        note_id -> Nullable<Text>,
        remarks -> Nullable<Text>,
        breached_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sla_breaches (file_id, step_entry) {
        file_id -> Text,
        step_entry -> BigInt,
        step -> Integer,
        post_id -> Text,
        due_at -> BigInt,
        recorded_at -> BigInt,
        escalated_to -> Nullable<Text>,
    }
}

diesel::table! {
    notes (id) {
        id -> Text,
        file_id -> Text,
        seq -> BigInt,
        body -> Text,
        status -> Text,
        author_post_id -> Text,
        author_user_id -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        signed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    receipts (id) {
        id -> Text,
        diary_no -> Text,
        entity_id -> Text,
        subject -> Text,
        sender -> Text,
        letter_no -> Nullable<Text>,
        letter_date -> Nullable<Text>,
        mode -> Text,
        form -> Text,
        classification -> Text,
        priority -> Text,
        urgency -> Integer,
        due_at -> Nullable<BigInt>,
        status -> Text,
        created_by_post -> Text,
        created_by_user -> Text,
        holder_post_id -> Text,
        last_movement_id -> Nullable<Text>,
        last_from_post -> Nullable<Text>,
        last_opened_at -> Nullable<BigInt>,
        held_since -> BigInt,
        file_id -> Nullable<Text>,
        next_move_seq -> BigInt,
        version -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        file_id -> Nullable<Text>,
        receipt_id -> Nullable<Text>,
        title -> Text,
        kind -> Text,
        sha256 -> Text,
        size -> BigInt,
        mime -> Text,
        filename -> Nullable<Text>,
        added_by_user -> Text,
        added_by_post -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    movements (id) {
        id -> Text,
        file_id -> Nullable<Text>,
        receipt_id -> Nullable<Text>,
        seq -> BigInt,
        action -> Text,
        from_post_id -> Nullable<Text>,
        to_post_id -> Nullable<Text>,
        remarks -> Nullable<Text>,
        due_at -> Nullable<BigInt>,
        priority -> Nullable<Text>,
        sent_at -> BigInt,
        opened_at -> Nullable<BigInt>,
        by_user_id -> Text,
        by_post_id -> Text,
    }
}

diesel::table! {
    file_links (id) {
        id -> Text,
        file_id -> Text,
        other_file_id -> Text,
        kind -> Text,
        by_user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    ledger_events (id) {
        id -> Text,
        at -> BigInt,
        kind -> Text,
        actor_user -> Nullable<Text>,
        actor_post -> Nullable<Text>,
        file_id -> Nullable<Text>,
        receipt_id -> Nullable<Text>,
        payload -> Text,
        position -> Nullable<BigInt>,
        hash -> Nullable<Text>,
        prev_hash -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (id) {
        id -> Text,
        user_id -> Text,
        mode -> Text,
        public_key -> Text,
        wrapped_key -> Nullable<Text>,
        salt -> Nullable<Text>,
        nonce -> Nullable<Text>,
        certificate_serial -> Text,
        certificate_pem -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        pin_failures -> Integer,
        pin_locked_until -> Nullable<BigInt>,
        revoked_by -> Nullable<Text>,
        sealed_with -> Text,
    }
}

diesel::table! {
    note_signatures (note_id) {
        note_id -> Text,
        key_id -> Text,
        certificate_serial -> Text,
        alg -> Text,
        canonical -> Text,
        signature_b64 -> Text,
        signed_at -> BigInt,
    }
}

diesel::table! {
    ledger_checkpoints (id) {
        id -> Text,
        size -> BigInt,
        root_hash -> Text,
        at -> BigInt,
        canonical -> Text,
        signature_b64 -> Text,
    }
}

diesel::table! {
    movement_signatures (movement_id) {
        movement_id -> Text,
        key_id -> Text,
        certificate_serial -> Text,
        canonical -> Text,
        signature_b64 -> Text,
        signed_at -> BigInt,
    }
}

diesel::table! {
    schedules (name) {
        name -> Text,
        period -> BigInt,
        ran_by -> Nullable<Text>,
        ran_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    ledger_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    ledger_tree (id) {
        id -> Integer,
        leaves -> BigInt,
    }
}

diesel::table! {
    stays (id) {
        id -> Text,
        object_id -> Text,
        kind -> Text,
        post_id -> Text,
        from_at -> BigInt,
        until_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin_requests (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        summary -> Text,
        entity_id -> Nullable<Text>,
        beneficiary -> Nullable<Text>,
        requested_by -> Text,
        status -> Text,
        decided_by -> Nullable<Text>,
        result_id -> Nullable<Text>,
        created_at -> BigInt,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(note_signatures -> notes (note_id));
diesel::joinable!(notes -> files (file_id));
diesel::joinable!(file_routes -> files (file_id));
diesel::joinable!(signing_keys -> users (user_id));
diesel::joinable!(movement_signatures -> movements (movement_id));

diesel::allow_tables_to_appear_in_same_query!(
    org_units,
    posts,
    users,
    post_assignments,
    user_roles,
    sessions,
    refresh_tokens,
    audit_events,
    serials,
    files,
    notes,
    receipts,
    documents,
    movements,
    file_links,
    jobs,
    ledger_events,
    signing_keys,
    note_signatures,
    ledger_checkpoints,
    movement_signatures,
    schedules,
    ledger_nodes,
    ledger_tree,
    stays,
    admin_requests,
    workflow_versions,
    file_routes,
    document_texts,
    concurrences,
    sla_breaches,
    physical_files,
    compliance_certificates,
    notification_prefs,
    mail_digest_items,
    mail_once,
    pin_reservations,
    receipt_tracking,
    dwell_counts,
    auth_epoch
);

diesel::table! {
    physical_files (id) {
        id -> Text,
        entity_id -> Text,
        reference -> Text,
        subject -> Text,
        opened_on -> Text,
        registered_at -> BigInt,
        registered_by -> Text,
        retired_at -> Nullable<BigInt>,
        retired_how -> Nullable<Text>,
        e_file_id -> Nullable<Text>,
    }
}

diesel::table! {
    compliance_certificates (id) {
        id -> Text,
        entity_id -> Nullable<Text>,
        entity_code -> Text,
        entity_name -> Text,
        period_from -> Text,
        period_to -> Text,
        version -> Integer,
        source -> Text,
        metrics -> Text,
        pdf_sha256 -> Text,
        signer -> Text,
        issued_by_user -> Nullable<Text>,
        issued_at -> BigInt,
        superseded_by -> Nullable<Text>,
    }
}

diesel::table! {
    notification_prefs (user_id) {
        user_id -> Text,
        marked -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    mail_digest_items (id) {
        id -> Text,
        user_id -> Text,
        line -> Text,
        link -> Text,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    mail_once (key) {
        key -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    pin_reservations (id) {
        id -> Text,
        key_id -> Text,
        lease_until -> BigInt,
    }
}

diesel::table! {
    dwell_counts (post_id, hour, seconds) {
        post_id -> Text,
        hour -> BigInt,
        seconds -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    receipt_tracking (receipt_id) {
        receipt_id -> Text,
        diary_no -> Text,
        code_sha256 -> Text,
        issued_at -> BigInt,
    }
}

diesel::table! {
    auth_epoch (id) {
        id -> Integer,
        value -> BigInt,
    }
}
