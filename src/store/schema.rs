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
diesel::allow_tables_to_appear_in_same_query!(
    org_units,
    posts,
    users,
    post_assignments,
    user_roles,
    sessions,
    refresh_tokens,
    audit_events
);
