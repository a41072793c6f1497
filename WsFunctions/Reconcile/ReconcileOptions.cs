using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Functions.Reconcile;

/// <summary>The <c>Reconcile</c> section: how the <c>ws:events</c> consumer reads, retries and gives up.</summary>
public sealed class ReconcileOptions
{
    public const string SectionName = "Reconcile";

    /// <summary>The consumer group on <c>ws:events</c>.</summary>
    public const string Group = Core.Cluster.ClusterEventFeed.Group;

    /// <summary>Entries read per batch.</summary>
    [Range(1, 1000, ErrorMessage = "Reconcile:BatchSize must be between 1 and 1000.")]
    public int BatchSize { get; set; } = 16;

    /// <summary>Wait between reads when the stream had nothing new.</summary>
    [Range(10, 60_000, ErrorMessage = "Reconcile:PollMilliseconds must be between 10 and 60000.")]
    public int PollMilliseconds { get; set; } = 1000;

    /// <summary>An entry pending this long (its consumer died, or its handling failed) is claimed and tried again.</summary>
    [Range(1, 3600, ErrorMessage = "Reconcile:ClaimIdleSeconds must be between 1 and 3600.")]
    public int ClaimIdleSeconds { get; set; } = 30;

    /// <summary>Deliveries of one entry before it is parked in <c>ws:events:dead</c>.</summary>
    [Range(1, 100, ErrorMessage = "Reconcile:MaxAttempts must be between 1 and 100.")]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>This consumer's name in the group; empty means the host name.</summary>
    public string ConsumerName { get; set; } = string.Empty;
}
