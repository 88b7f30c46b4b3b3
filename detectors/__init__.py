"""Pure drift-detection logic over river: no Kafka, no Redis, so the backtest runs the same code."""
