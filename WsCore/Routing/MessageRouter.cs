using System.Diagnostics;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.Core.Routing;

public enum SendOutcome
{
    Delivered,
    Queued,
    Unknown,
}

/// <summary>
/// Sends to a client id or a group wherever the recipients are connected. The log is written first and the owner
/// is rung second (docs/design.md invariant 3): whatever happens to the doorbell, the message is in the log.
/// WsApp and the admin API both send through here, so both give the same guarantees.
/// </summary>
public sealed class MessageRouter(ISessionStore store, INodeBus bus)
{
    private long _appended;

    /// <summary>Takes the count of messages appended since the last call (flushed to the shared stats by the host).</summary>
    public long TakeAppendedCount() => Interlocked.Exchange(ref _appended, 0);

    /// <summary>Gives back a count that could not be flushed, for the next flush.</summary>
    public void ReturnAppendedCount(long count) => Interlocked.Add(ref _appended, count);

    public async ValueTask<SendOutcome> SendAsync(string from, string to, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var activity = WsMetrics.ActivitySource.StartActivity("ws.send", ActivityKind.Producer);
        activity?.SetTag("ws.to", to);
        var outcome = await AppendAndRingAsync(to, new OutboundMessage(from, data), cancellationToken);
        activity?.SetTag("ws.outcome", outcome.ToAckStatus());
        WsMetrics.MessagesRouted.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToAckStatus()));
        return outcome;
    }

    /// <summary>
    /// One append to the group's own log and one doorbell to the nodes that hold its members (docs/protocol.md §5b),
    /// whatever the member count; each node fans out to its own sockets. <see cref="SendOutcome.Unknown"/> when the
    /// group has no member but the sender; otherwise <see cref="SendOutcome.Delivered"/>, even when every member is
    /// disconnected (the group's log holds it for their resume). <see cref="Groups.Broadcast"/> reaches every
    /// connected client.
    /// </summary>
    public async ValueTask<GroupSendResult> SendToGroupAsync(string from, string group, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var activity = WsMetrics.ActivitySource.StartActivity("ws.send", ActivityKind.Producer);
        activity?.SetTag("ws.group", group);
        var appended = await store.AppendToGroupAsync(group, new OutboundMessage(from, data), cancellationToken);
        var outcome = appended.Entry is null ? SendOutcome.Unknown : SendOutcome.Delivered;
        if (appended.Entry is { } entry)
        {
            Interlocked.Increment(ref _appended);
            // The doorbell carries the send's trace context, so each node's fan-out joins the same trace.
            await bus.RingGroupAsync(Activity.Current is { } current ? entry with { TraceParent = current.Id } : entry, cancellationToken);
        }

        activity?.SetTag("ws.outcome", outcome.ToAckStatus());
        WsMetrics.MessagesRouted.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToAckStatus()));
        return new GroupSendResult(outcome, appended.Entry?.Seq ?? 0, appended.Recipients);
    }

    private async ValueTask<SendOutcome> AppendAndRingAsync(string to, OutboundMessage message, CancellationToken cancellationToken)
    {
        var appended = await store.AppendAsync(to, message, cancellationToken);
        if (appended.State != RecipientState.Unknown)
        {
            Interlocked.Increment(ref _appended);
        }

        switch (appended.State)
        {
            case RecipientState.Connected:
                // The doorbell carries the send's trace context, so the delivery on the owner joins the same trace.
                var entry = Activity.Current is { } current ? appended.Entry! with { TraceParent = current.Id } : appended.Entry!;
                await bus.DeliverAsync(appended.OwnerServer!, to, entry, cancellationToken);
                return SendOutcome.Delivered;
            case RecipientState.Disconnected:
                return SendOutcome.Queued;
            default:
                return SendOutcome.Unknown;
        }
    }
}

/// <summary>The outcome of a group send.</summary>
/// <param name="Gseq">The message's gseq when appended, else 0.</param>
/// <param name="Recipients">Members other than the sender when appended (0 for a broadcast: its members are whoever is connected).</param>
public readonly record struct GroupSendResult(SendOutcome Outcome, long Gseq, long Recipients);

public static class SendOutcomeExtensions
{
    public static string ToAckStatus(this SendOutcome outcome) => outcome switch
    {
        SendOutcome.Delivered => AckStatus.Delivered,
        SendOutcome.Queued => AckStatus.Queued,
        _ => AckStatus.Unknown,
    };
}
