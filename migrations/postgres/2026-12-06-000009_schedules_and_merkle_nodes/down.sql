DROP TABLE ledger_tree;
DROP TABLE ledger_nodes;
DROP TABLE schedules;
