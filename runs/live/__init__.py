"""Live updates: from the event table to websocket subscribers (pump, wake-up hints, GraphQL-over-WS consumer)."""
