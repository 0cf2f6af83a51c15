DROP TABLE pin_reservations;
