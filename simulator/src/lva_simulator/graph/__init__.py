"""Running one graph instance: the plan of its nodes, the runner, the events LVA publishes."""
