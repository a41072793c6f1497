using System.Diagnostics;
using System.Globalization;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// Group load beside <see cref="Traffic"/>'s direct load (docs/protocol.md §5b): a few groups whose members are
/// clients of the direct traffic spread over every node (each member in two groups, so a resume names several
/// <c>since</c>), and per group two senders, one a member (which must not get its own messages back) and one not,
/// each sending numbered messages at a steady rate, one in flight, keeping the numbers acked <c>delivered</c>. Every
/// member but the sender must receive each of them once, in gseq order, at the same gseq as every other member.
/// </summary>
public sealed class GroupTraffic
{
    private readonly IReadOnlyList<ChaosClient> _clients;
    private readonly Dictionary<string, List<ChaosClient>> _members;
    private readonly List<GroupSender> _senders;

    private GroupTraffic(IReadOnlyList<ChaosClient> clients, Dictionary<string, List<ChaosClient>> members, List<GroupSender> senders)
    {
        _clients = clients;
        _members = members;
        _senders = senders;
    }

    public int Groups => _members.Count;

    public int Members => _members.Values.SelectMany(m => m).Distinct().Count();

    /// <summary>
    /// Makes <paramref name="groups"/> groups over <paramref name="clients"/>: on each node the first
    /// <c>groups x perNode</c> of its clients join two groups each (<c>i mod groups</c> and the next), so each group
    /// has <c>2 x perNode</c> members on every node. Joins are bounded; a join not acked <c>ok</c> fails the run.
    /// </summary>
    public static async Task<GroupTraffic> JoinAsync(IReadOnlyList<ChaosClient> clients, string prefix, int groups, int perNode)
    {
        var names = Enumerable.Range(0, groups).Select(g => string.Create(CultureInfo.InvariantCulture, $"{prefix}-room-{g}")).ToList();
        var members = names.ToDictionary(n => n, _ => new List<ChaosClient>(), StringComparer.Ordinal);
        var byNode = clients.GroupBy(c => c.ServerId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        var chosen = new HashSet<ChaosClient>();
        var joins = new List<Task>();
        foreach (var node in byNode)
        {
            var local = node.Take(groups * perNode).ToList();
            if (local.Count < groups * perNode)
            {
                throw new InvalidOperationException($"{node.Key} holds {local.Count} clients, {groups * perNode} needed for the groups");
            }

            for (var i = 0; i < local.Count; i++)
            {
                chosen.Add(local[i]);
                foreach (var name in new[] { names[i % groups], names[(i + 1) % groups] })
                {
                    members[name].Add(local[i]);
                    joins.Add(local[i].JoinAsync(name, TimeSpan.FromSeconds(10)));
                }
            }
        }

        await Task.WhenAll(joins);

        // Per group: its first member, and a client of no group on the next node in turn (non-members send too).
        var outsiders = clients.Where(c => !chosen.Contains(c)).GroupBy(c => c.ServerId, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new Queue<ChaosClient>(g)).ToList();
        var senders = new List<GroupSender>();
        for (var g = 0; g < groups; g++)
        {
            senders.Add(new GroupSender(members[names[g]][0], names[g]));
            var queue = outsiders[g % outsiders.Count];
            senders.Add(new GroupSender(queue.Count > 0 ? queue.Dequeue() : throw new InvalidOperationException("too few clients outside the groups"), names[g]));
        }

        return new GroupTraffic(clients, members, senders);
    }

    /// <summary>Sends until <paramref name="end"/> (a <see cref="Stopwatch"/> timestamp) at <paramref name="perSender"/> messages/s per sender.</summary>
    public Task RunAsync(long end, double perSender) =>
        Task.WhenAll(_senders.Select(s => SendUntilAsync(s, end, TimeSpan.FromSeconds(1 / perSender))));

    /// <summary>Whether every acked group message has reached every member but its sender.</summary>
    public bool AllArrived() =>
        _senders.All(s => _members[s.Group].Where(m => m != s.Client).All(m => s.Acked.All(n => m.GroupGseq(s.Group, s.Client.ClientId, n) is not null)));

    public GroupTally Tally()
    {
        var lost = new List<string>();
        long owed = 0;
        long missing = 0;
        long mismatches = 0;
        foreach (var sender in _senders)
        {
            var recipients = _members[sender.Group].Where(m => m != sender.Client).ToList();
            foreach (var n in sender.Acked)
            {
                owed += recipients.Count;
                var gseqs = recipients.Select(m => (Member: m, Gseq: m.GroupGseq(sender.Group, sender.Client.ClientId, n))).ToList();
                var distinct = gseqs.Where(x => x.Gseq is not null).Select(x => x.Gseq!.Value).Distinct().ToList();
                if (distinct.Count > 1)
                {
                    // gseq is the group's counter: the same number for every member (docs/protocol.md §2).
                    mismatches++;
                    lost.Add($"{sender.Group} {sender.Client.ClientId} n={n}: members got it at gseq {string.Join('/', distinct)}");
                }

                foreach (var (member, _) in gseqs.Where(x => x.Gseq is null))
                {
                    missing++;
                    lost.Add($"{sender.Group} {sender.Client.ClientId} n={n} (gseq {(distinct.Count > 0 ? distinct[0].ToString(CultureInfo.InvariantCulture) : "?")} at others) never reached {member.ClientId} on {member.ServerId} (closes: {string.Join(',', member.Closes)})");
                }
            }
        }

        // A jump in a member's stream must be over its own messages only, at the gseqs the other members got them.
        long holes = 0;
        foreach (var (group, members) in _members)
        {
            foreach (var member in members)
            {
                var own = members.Where(m => m != member).SelectMany(m => m.GseqsFrom(group, member.ClientId)).ToHashSet();
                var unexplained = member.SkippedGseqs(group).Where(g => !own.Contains(g)).ToList();
                holes += unexplained.Count;
                if (unexplained.Count > 0)
                {
                    lost.Add($"{group}: {member.ClientId} jumped over gseq {string.Join(',', unexplained.Take(10))} (not its own messages)");
                }
            }
        }

        // Every stream of every client: a member's groups, the broadcast group *, and any group it got unasked.
        var figures = _clients.SelectMany(c => c.RecordedGroups.Select(c.GroupFigures)).ToList();
        var clients = _clients;
        return new GroupTally(
            Groups: _members.Count,
            Members: Members,
            Messages: _senders.Sum(s => s.Acked.Count),
            Sent: owed,
            InDoubt: _senders.Sum(s => s.InDoubt),
            Received: figures.Sum(f => f.Received),
            Lost: missing,
            Duplicated: figures.Sum(f => f.Duplicated),
            OutOfOrder: figures.Sum(f => f.OutOfOrder),
            GseqBreaks: figures.Sum(f => f.GseqBreaks) + holes,
            NotRecovered: figures.Sum(f => f.NotRecovered),
            Unexpected: figures.Sum(f => f.Unexpected) + _senders.Sum(s => s.Unexpected) + clients.Sum(c => c.Malformed),
            MissingGroups: clients.Sum(c => c.MissingGroups),
            OwnEchoes: figures.Sum(f => f.OwnEchoes),
            MemberResumes: _members.Values.SelectMany(m => m).Distinct().Sum(m => m.Connects - 1),
            GseqMismatches: mismatches,
            Details: lost);
    }

    private static Task SendUntilAsync(GroupSender sender, long end, TimeSpan interval) =>
        PacedSender.SendUntilAsync(sender, end, interval, n => sender.Client.SendToGroupAsync(sender.Group, n, TimeSpan.FromSeconds(5)), status => status == "delivered");

    private sealed class GroupSender(ChaosClient client, string group) : PacedSender
    {
        public ChaosClient Client { get; } = client;

        public string Group { get; } = group;
    }
}

/// <summary>
/// What the group senders had acked and what the members' own records say they got. <see cref="Sent"/> counts
/// deliveries owed (each acked message once per member but its sender), so lost and received compare with it.
/// </summary>
public sealed record GroupTally(
    int Groups,
    int Members,
    long Messages,
    long Sent,
    long InDoubt,
    long Received,
    long Lost,
    long Duplicated,
    long OutOfOrder,
    long GseqBreaks,
    long NotRecovered,
    long Unexpected,
    long MissingGroups,
    long OwnEchoes,
    int MemberResumes,
    long GseqMismatches,
    IReadOnlyList<string> Details)
{
    /// <summary>Everything but lost, duplicated and out of order that breaks docs/protocol.md §5b.</summary>
    public long Violations => GseqBreaks + NotRecovered + Unexpected + MissingGroups + OwnEchoes + GseqMismatches;
}
