"""The LVA edge module: its direct methods, the topology checks, the stored state, its errors."""
