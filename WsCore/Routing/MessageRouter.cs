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
/// is rung second (DESIGN.md invariant 3): whatever happens to the doorbell, the message is in the log.
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
        var outcome = await AppendAndRingAsync(to, new OutboundMessage(from, null, data), cancellationToken);
        activity?.SetTag("ws.outcome", outcome.ToAckStatus());
        WsMetrics.MessagesRouted.Add(1, new KeyValuePair<string, object?>("outcome", outcome.ToAckStatus()));
        return outcome;
    }

    /// <summary>
    /// Appends to the log of every member but the sender. <see cref="SendOutcome.Unknown"/> when there is no such
    /// member; otherwise <see cref="SendOutcome.Delivered"/>, even when every member is disconnected (PROTOCOL.md §5a).
    /// </summary>
    public async ValueTask<SendOutcome> SendToGroupAsync(string from, string group, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var activity = WsMetrics.ActivitySource.StartActivity("ws.send", ActivityKind.Producer);
        activity?.SetTag("ws.group", group);
        var members = await store.GetGroupMembersAsync(group, cancellationToken);
        var reached = 0;
        foreach (var member in members)
        {
            if (member == from)
            {
                continue;
            }

            if (await AppendAndRingAsync(member, new OutboundMessage(from, group, data), cancellationToken) != SendOutcome.Unknown)
            {
                reached++;
            }
        }

        var outcome = reached > 0 ? SendOutcome.Delivered : SendOutcome.Unknown;
        WsMetrics.MessagesRouted.Add(reached > 0 ? reached : 1, new KeyValuePair<string, object?>("outcome", outcome.ToAckStatus()));
        return outcome;
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

public static class SendOutcomeExtensions
{
    public static string ToAckStatus(this SendOutcome outcome) => outcome switch
    {
        SendOutcome.Delivered => AckStatus.Delivered,
        SendOutcome.Queued => AckStatus.Queued,
        _ => AckStatus.Unknown,
    };
}
