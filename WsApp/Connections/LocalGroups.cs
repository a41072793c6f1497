using System.Buffers;
using Microsoft.Extensions.Logging;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>
/// The node's side of group fan-out (docs/protocol.md §5b): for each group this node holds members of, one
/// subscription to the group's doorbell, the gseq the node has delivered up to, and its local member sockets. A
/// group message reaches the node once and is handed to each local member once, in gseq order; a gap in the
/// doorbells is filled from the group's log once for the node, not once per member.
/// </summary>
/// <remarks>
/// A group is held by references: one per local member, one per connect or join that is setting a member up, and
/// one for the broadcast group for the life of the node (its members are every socket of the node, so it keeps no
/// member set). The last reference unsubscribes the node.
/// </remarks>
internal sealed class LocalGroups(ISessionStore store, INodeBus bus, Func<IEnumerable<ClientConnection>> everyone, ILogger logger)
{
    /// <summary>The largest position a client may name (15 digits): a read after it returns only the group's counter.</summary>
    private const long LatestPosition = 999_999_999_999_999;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, LocalGroup> _groups = new(StringComparer.Ordinal);

    private LocalGroup? _broadcast;

    /// <summary>Starts hearing the broadcast group, for as long as the node runs.</summary>
    public async Task StartAsync()
    {
        await AcquireAsync(Groups.Broadcast);
        lock (_gate)
        {
            _broadcast = _groups[Groups.Broadcast];
        }
    }

    /// <summary>
    /// The gseq the node has delivered the broadcast group up to: where a connect that names no position in it starts.
    /// The node holds the group for its life, so a connect takes no reference to it.
    /// </summary>
    public long BroadcastPosition => Volatile.Read(ref _broadcast!.Last);

    /// <summary>
    /// Takes a reference to <paramref name="group"/>, subscribing the node when it is the first, and returns once the
    /// node hears its doorbells, with the gseq the node has delivered up to. A message appended after that rings this
    /// node. The caller must pass the reference on to <see cref="Attach"/> or give it back with <see cref="Release"/>.
    /// </summary>
    public async Task<long> AcquireAsync(string group)
    {
        LocalGroup local;
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out local!))
            {
                _groups[group] = local = new LocalGroup(group);
                local.Ready = SubscribeAsync(local);
            }

            local.References++;
        }

        try
        {
            await local.Ready;
        }
        catch
        {
            Release(group);
            throw;
        }

        return Volatile.Read(ref local.Last);
    }

    /// <summary>
    /// Makes <paramref name="connection"/> a local member of <paramref name="group"/> (taking over the reference the
    /// caller acquired), owed every message after <paramref name="position"/>. What the node delivered past that
    /// position before the member was added is read back from the group's log for this member.
    /// </summary>
    public void Attach(string group, ClientConnection connection, long position, bool referenced = true)
    {
        LocalGroup? local;
        lock (_gate)
        {
            // Held by the caller's reference, so present unless the node stopped hearing every group (shutdown).
            if (!_groups.TryGetValue(group, out local))
            {
                return;
            }
        }

        long delivered;
        lock (local)
        {
            // The broadcast group's members are the node's sockets: they are found in the node's map, so only the
            // catch-up is due here. The map was written before this lock, the doorbell writes Last under it and reads
            // the map after it, so a message is either seen here or delivered by the doorbell (the pump drops a twin).
            if (group != Groups.Broadcast)
            {
                local.Members.Add(connection);
            }

            delivered = local.Last;
        }

        if (delivered > position)
        {
            connection.CatchUpGroup(group, delivered);
        }

        if (group == Groups.Broadcast && referenced)
        {
            // Not a member set's entry: the node's own reference keeps the broadcast group for its life.
            Release(group);
        }
    }

    /// <summary>Ends <paramref name="connection"/>'s local membership of <paramref name="group"/>, with its reference.</summary>
    public void Detach(string group, ClientConnection connection)
    {
        if (group == Groups.Broadcast)
        {
            return;
        }

        LocalGroup? local;
        lock (_gate)
        {
            _groups.TryGetValue(group, out local);
        }

        if (local is null)
        {
            return;
        }

        bool removed;
        lock (local)
        {
            removed = local.Members.Remove(connection);
        }

        if (removed)
        {
            Release(group);
        }
    }

    /// <summary>Gives back a reference taken by <see cref="AcquireAsync"/> that was not attached.</summary>
    public void Release(string group)
    {
        LocalGroup? last = null;
        lock (_gate)
        {
            if (_groups.TryGetValue(group, out var local) && --local.References == 0)
            {
                _groups.Remove(group);
                last = local;
            }
        }

        if (last is not null)
        {
            _ = UnsubscribeAsync(last);
        }
    }

    /// <summary>
    /// After the connection to the store came back: doorbells rung while it was away are lost, so each group the node
    /// holds is read from its log after what the node delivered, and what is newer is delivered now rather than
    /// waiting for the group's next message. With <paramref name="startOver"/> (once the node's claims are
    /// re-asserted), a group whose counter went back (the store lost its data) starts over (<see cref="StartOver"/>).
    /// </summary>
    public async Task CatchUpAsync(bool startOver)
    {
        LocalGroup[] held;
        lock (_gate)
        {
            held = [.. _groups.Values];
        }

        foreach (var local in held)
        {
            await OnEntryAsync(local, entry: null, startOver);
        }
    }

    /// <summary>Stops hearing every group (the node is stopping).</summary>
    public async Task StopAsync()
    {
        LocalGroup[] held;
        lock (_gate)
        {
            held = [.. _groups.Values];
            _groups.Clear();
        }

        foreach (var local in held)
        {
            await UnsubscribeAsync(local);
        }
    }

    private async Task SubscribeAsync(LocalGroup local)
    {
        local.Subscription = await bus.SubscribeGroupAsync(local.Name, entry => OnEntryAsync(local, entry), CancellationToken.None);
        // Read after the subscription is in place: a message appended after this read rings the node.
        try
        {
            var read = await store.ReadGroupLogAsync(local.Name, LatestPosition, CancellationToken.None);
            Volatile.Write(ref local.Last, read.LastGseq);
        }
        catch
        {
            await local.Subscription.DisposeAsync();
            throw;
        }
        finally
        {
            local.Initialized.TrySetResult();
        }
    }

    private static async Task UnsubscribeAsync(LocalGroup local)
    {
        try
        {
            await local.Ready;
        }
        catch
        {
            // The subscription never came up: nothing to undo.
            return;
        }

        await local.Subscription!.DisposeAsync();
    }

    /// <summary>
    /// A doorbell (or, with <paramref name="entry"/> null, a catch-up): one at a time per group, in gseq order, each
    /// message once. A gap (doorbells of two senders crossed, or one was lost) is read from the group's log first.
    /// </summary>
    private async Task OnEntryAsync(LocalGroup local, LogEntry? entry, bool startOver = false)
    {
        // Doorbells that come while the node is still reading its starting position wait for it.
        await local.Initialized.Task;
        await local.Serial.WaitAsync();
        try
        {
            var last = Volatile.Read(ref local.Last);
            if (entry is not null && entry.Seq <= last)
            {
                return;
            }

            if (entry is null || entry.Seq > last + 1)
            {
                var read = await ReadAfterAsync(local.Name, last);
                if (read is not null && read.LastGseq < last)
                {
                    if (startOver)
                    {
                        StartOver(local, read.LastGseq);
                    }

                    return;
                }

                foreach (var missed in read?.Entries ?? [])
                {
                    if (entry is null || missed.Seq < entry.Seq)
                    {
                        Deliver(local, missed);
                    }
                }
            }

            if (entry is not null)
            {
                Deliver(local, entry);
            }
        }
        finally
        {
            local.Serial.Release();
        }
    }

    /// <summary>The group's log after <paramref name="afterGseq"/>; null when the store cannot be reached.</summary>
    private async Task<GroupLogRead?> ReadAfterAsync(string group, long afterGseq)
    {
        try
        {
            return await store.ReadGroupLogAsync(group, afterGseq, CancellationToken.None);
        }
        catch (StoreUnavailableException e)
        {
            // The store is unreachable: members see the jump in gseq, which is how a client knows to resume with since.
            ConnectionLog.StoreUnavailable(logger, "group read", group, e);
            return null;
        }
    }

    /// <summary>
    /// The group's counter is below what the node delivered: the store lost the group's log, and gseq restarts. A
    /// member's client holds a position the new messages would be dropped under as duplicates, so each local member
    /// is closed with 1001: it resumes (on any node) with its since, past the counter, and its welcome says the group
    /// was not recovered and where delivery starts again (docs/protocol.md §5b).
    /// </summary>
    private void StartOver(LocalGroup local, long counter)
    {
        ClientConnection[]? members = null;
        lock (local)
        {
            Volatile.Write(ref local.Last, counter);
            if (local.Name != Groups.Broadcast)
            {
                members = [.. local.Members];
            }
        }

        foreach (var member in members ?? everyone())
        {
            member.RequestClose(CloseCodes.Draining, "group log lost; resume");
        }
    }

    /// <summary>Hands one message to every local member, rendered once for all of them.</summary>
    private void Deliver(LocalGroup local, LogEntry entry)
    {
        var buffer = new ArrayBufferWriter<byte>(entry.Data.Length + 128);
        ServerFrames.WriteMessage(buffer, entry);
        var frame = buffer.WrittenMemory;
        ClientConnection[]? members = null;
        lock (local)
        {
            Volatile.Write(ref local.Last, entry.Seq);
            if (local.Name != Groups.Broadcast)
            {
                members = [.. local.Members];
            }
        }

        foreach (var member in members ?? everyone())
        {
            member.DeliverGroup(entry, frame);
        }
    }

    /// <summary>One group as this node holds it. Members and Last are guarded by the object itself; References by the registry's gate.</summary>
    private sealed class LocalGroup(string name)
    {
        public string Name { get; } = name;

        public HashSet<ClientConnection> Members { get; } = [];

        public int References;

        // The gseq the node has delivered up to (written under the lock, read without it by the doorbell, one at a time).
        public long Last;

        public Task Ready = Task.CompletedTask;

        public IAsyncDisposable? Subscription;

        public TaskCompletionSource Initialized { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SemaphoreSlim Serial { get; } = new(1, 1);
    }
}
