// The scenarios start several node processes and load them; run one at a time so they do not starve each other
// on a small machine (and so a figure measures its own scenario).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
