DROP TABLE admin_requests;
