"""What training minimises and reports: losses, metrics, sample and class weights, and the checks
that a loss fits the network's output."""
