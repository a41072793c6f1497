using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>The images build with the SDK the repository is tested with, so a remote build cannot fail alone.</summary>
public sealed partial class ImageTests
{
    public static TheoryData<string> Services => new() { "wsapp", "wsfunctions" };

    [Theory]
    [MemberData(nameof(Services))]
    public void TheSdkImageIsTheFeatureBandOfGlobalJson(string service)
    {
        var sdk = JsonNode.Parse(Repository.Read("global.json"))!["sdk"]!;
        var pinned = Version.Parse((string)sdk["version"]!);
        var images = Dockerfile.OfService(service).BaseImages;

        var build = Assert.Single(images, i => i.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var tag = ExactVersion().Match(build[(build.IndexOf(':', StringComparison.Ordinal) + 1)..]);
        Assert.True(tag.Success, $"{build} is not an exact SDK version");
        var version = Version.Parse(tag.Value);
        Assert.Equal((pinned.Major, pinned.Minor, pinned.Build / 100), (version.Major, version.Minor, version.Build / 100));
        Assert.True(version >= pinned, $"{build} is older than global.json's {pinned}");
    }

    [Fact]
    public void TheWsAppRuntimeImageIsAnExactVersion()
    {
        var runtime = Assert.Single(Dockerfile.OfService("wsapp").BaseImages, i => i.StartsWith("mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal));

        Assert.Matches(@":\d+\.\d+\.\d+$", runtime);
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+$")]
    private static partial Regex ExactVersion();
}
