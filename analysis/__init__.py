"""Results across runs: the statistics the field reports (bootstrap intervals, human-normalized
scores, interquartile means) and the tables and curves written from run folders."""
