//! Generators and clients, one client module per system under test.
