// Built-in strategies land here (see issue 4).
