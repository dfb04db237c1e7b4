"""What the device keeps: one SQLite database (notes, memory, conversation) and atomic files."""
