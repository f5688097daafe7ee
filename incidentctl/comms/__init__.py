"""Communications: notification channels, and later the rules and outbox that drive them."""
