"""Training: ``Sequential``'s fit loop and ``evaluate``, ``TrainStep`` (eager or compiled), batches
and shuffling, callbacks, backups and checkpoints, the divergence guard and progress display."""
