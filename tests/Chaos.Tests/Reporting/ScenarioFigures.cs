namespace ServerlessWs.Chaos.Tests.Reporting;

/// <summary>
/// What one scenario tried and what it found, as docs/reliability.md's table shows it. Counters that do not
/// apply to a scenario stay null and print as "–". Lost, duplicated, out of order and violations must be 0.
/// </summary>
public sealed record ScenarioFigures(string Scenario)
{
    public int? Clients { get; init; }

    public long? Sent { get; init; }

    public long? Received { get; init; }

    public long? Lost { get; init; }

    public long? Duplicated { get; init; }

    public long? OutOfOrder { get; init; }

    public int? Violations { get; init; }

    /// <summary>From the fault to the last stale entry gone from Redis.</summary>
    public TimeSpan? CleanupTime { get; init; }

    public long? InputsTried { get; init; }

    /// <summary>Inputs that got the answer docs/protocol.md documents for them.</summary>
    public long? DocumentedAnswers { get; init; }

    /// <summary>One short line: what the scenario did (e.g. "kill -9 of 1 of 3 nodes").</summary>
    public string? Notes { get; init; }
}
