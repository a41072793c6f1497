using System.Text.Json;
using System.Text.RegularExpressions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.Core.Tests.Telemetry;

/// <summary>
/// The dashboard (infra/dashboard.workbook.json, deployed by infra/app/dashboard.bicep) and the instruments in
/// code must name the same metrics: a rename on one side alone fails here.
/// </summary>
public sealed partial class DashboardContractTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    [Fact]
    public void EveryMetricTheDashboardQueriesIsAnInstrumentAndEveryInstrumentIsOnTheDashboard()
    {
        var instruments = WsMetrics.All.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var queried = QueriedMetricNames();

        Assert.Empty(queried.Except(instruments));
        Assert.Empty(instruments.Except(queried));
    }

    [Fact]
    public void EveryInstrumentIsOnTheServerlessWsMeter()
    {
        Assert.All(WsMetrics.All, i => Assert.Equal(WsMetrics.Name, i.Meter.Name));
        Assert.Equal(WsMetrics.All.Count, WsMetrics.All.Select(i => i.Name).Distinct().Count());
    }

    [Fact]
    public void TheWorkbookBicepDeploysThisWorkbookFile()
    {
        var bicep = File.ReadAllText(Path.Combine(RepoRoot, "infra", "app", "dashboard.bicep"));

        Assert.Contains("loadJsonContent('../dashboard.workbook.json')", bicep, StringComparison.Ordinal);
    }

    /// <summary>Every <c>name == "…"</c> in the workbook's KQL queries.</summary>
    private static HashSet<string> QueriedMetricNames()
    {
        using var workbook = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "infra", "dashboard.workbook.json")));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in workbook.RootElement.GetProperty("items").EnumerateArray())
        {
            if (item.GetProperty("content").TryGetProperty("query", out var query))
            {
                foreach (Match match in MetricName().Matches(query.GetString()!))
                {
                    names.Add(match.Groups[1].Value);
                }
            }
        }

        Assert.NotEmpty(names);
        return names;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ServerlessWs.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ServerlessWs.sln not found above the test output.");
    }

    [GeneratedRegex("name\\s*==\\s*\"([^\"]+)\"")]
    private static partial Regex MetricName();
}
