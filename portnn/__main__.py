"""``python -m portnn``: the ``portnn`` command (so that ``mpiexec -n P python -m mpi4py -m portnn
train ... --distributed`` runs it on every rank)."""

from .cli.main import main

raise SystemExit(main())
