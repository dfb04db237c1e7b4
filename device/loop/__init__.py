"""The voice loop: the pure state machine, the runtime that carries out its commands, its pacing,
the router and the offline brain."""
