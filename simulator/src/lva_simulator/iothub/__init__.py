"""The IoT Hub front end: the HTTPS API, its SAS tokens, connection string and certificate."""
