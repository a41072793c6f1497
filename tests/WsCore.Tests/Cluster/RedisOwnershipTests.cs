using System.Text.RegularExpressions;

namespace ServerlessWs.Core.Tests.Cluster;

/// <summary>
/// docs/design.md "Who writes what": WsCore alone spells keys and makes Redis data calls; WsApp and WsFunctions go
/// through its types (the session store, the node bus, the cluster registry, the event feed). This holds it on the
/// source of both apps, so a raw call added later fails the build's tests rather than a review.
/// </summary>
public sealed partial class RedisOwnershipTests
{
    // Redis data access and its vocabulary: the database, keys and values, batches, stream records, raw failures.
    [GeneratedRegex(@"\b(IDatabase\w*|GetDatabase|GetSubscriber|RedisKeys|StatsFields|RedisKey|RedisValue|RedisResult|StreamEntry|NameValueEntry|CreateBatch|CreateTransaction|RedisException|RedisServerException|RedisConnectionException)\b")]
    private static partial Regex RedisDataAccess();

    [Theory]
    [InlineData("WsApp")]
    [InlineData("WsFunctions")]
    public void AnAppMakesNoRedisDataCallsOfItsOwn(string project)
    {
        var offenders =
            from file in Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), project), "*.cs", SearchOption.AllDirectories)
            where !IsBuildOutput(file)
            from line in File.ReadLines(file).Select((text, index) => (Text: text, Number: index + 1))
            let match = RedisDataAccess().Match(line.Text)
            where match.Success
            select $"{Path.GetRelativePath(RepositoryRoot(), file)}:{line.Number}: {match.Value}";

        Assert.Empty(offenders);
    }

    [Fact]
    public void TheScanSeesTheAppsSources()
    {
        // Guards the test above against passing by finding nothing.
        Assert.Contains(
            Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), "WsFunctions"), "*.cs", SearchOption.AllDirectories),
            file => file.EndsWith("CleanupStaleEntries.cs", StringComparison.Ordinal));
    }

    private static bool IsBuildOutput(string file) =>
        file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
        || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ServerlessWs.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ServerlessWs.sln not found above the test assembly.");
    }
}
