using System.Text.RegularExpressions;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.App.Tests;

/// <summary>
/// WsApp's folders (one namespace each, <c>ServerlessWs.App.&lt;Folder&gt;</c>) depend on each other one way only: a
/// folder whose files name another folder (a <c>using</c> of its namespace, or a type qualified by it) is not named
/// back by that folder, directly or through others. A cycle means two folders can only be read, changed and tested
/// together (issue 18: Auth and Connections, Heartbeat and Upgrade were).
/// </summary>
public sealed partial class FolderDependencyTests
{
    [Fact]
    public void NoFoldersOfWsAppDependOnEachOther()
    {
        var graph = ReadGraph(RepositoryPaths.Of("WsApp"));
        Assert.Contains("Connections", graph.Keys);
        Assert.Contains("Connections", graph["Hosting"]);

        var cycles = Cycles(graph);

        Assert.True(cycles.Count == 0, $"WsApp's folders depend on each other: {string.Join("; ", cycles)}");
    }

    /// <summary>Each folder's namespace and the other folders its files name.</summary>
    private static Dictionary<string, HashSet<string>> ReadGraph(string project)
    {
        var files = Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Text: File.ReadAllText(f), Path: f))
            .Select(f => (f.Text, f.Path, Folder: Namespace().Match(f.Text) is { Success: true } m ? m.Groups[1].Value : "(top level)"))
            .ToList();
        var folders = files.Select(f => f.Folder).ToHashSet(StringComparer.Ordinal);
        var graph = folders.ToDictionary(f => f, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var (text, _, folder) in files)
        {
            // `using ServerlessWs.App.X;`, `ServerlessWs.App.X.Type`, and `X.Type` as a sibling namespace resolves it.
            var named = FullyQualified().Matches(text).Select(m => m.Groups[1].Value)
                .Concat(SiblingQualified().Matches(text).Select(m => m.Groups[1].Value))
                .Where(n => folders.Contains(n) && n != folder);
            graph[folder].UnionWith(named);
        }

        return graph;
    }

    /// <summary>Every set of folders that reach each other, with the dependencies between them.</summary>
    private static List<string> Cycles(Dictionary<string, HashSet<string>> graph)
    {
        var reach = graph.ToDictionary(g => g.Key, g => Reachable(graph, g.Key), StringComparer.Ordinal);
        var components = graph.Keys
            .Select(a => graph.Keys.Where(b => reach[a].Contains(b) && reach[b].Contains(a)).Order(StringComparer.Ordinal).ToList())
            .Where(component => component.Count > 1)
            .DistinctBy(component => string.Join(",", component), StringComparer.Ordinal);
        return [.. components.Select(component =>
        {
            var edges = component.SelectMany(a => graph[a].Where(component.Contains).Order(StringComparer.Ordinal).Select(b => $"{a}->{b}"));
            return $"{string.Join(" <-> ", component)} ({string.Join(", ", edges)})";
        })];
    }

    private static HashSet<string> Reachable(Dictionary<string, HashSet<string>> graph, string from)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { from };
        var pending = new Queue<string>([from]);
        while (pending.TryDequeue(out var folder))
        {
            foreach (var next in graph[folder].Where(seen.Add))
            {
                pending.Enqueue(next);
            }
        }

        return seen;
    }

    [GeneratedRegex(@"^namespace ServerlessWs\.App\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    [GeneratedRegex(@"ServerlessWs\.App\.(\w+)")]
    private static partial Regex FullyQualified();

    [GeneratedRegex(@"(?<![\w.])([A-Z]\w*)\.[A-Z]")]
    private static partial Regex SiblingQualified();
}
