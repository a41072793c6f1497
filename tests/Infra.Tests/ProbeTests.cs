using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>
/// The container apps as main.bicep deploys them: ports that meet, and no probe against azd's placeholder image
/// (a failing probe there kept the first <c>azd up</c> from ever becoming ready).
/// </summary>
public sealed partial class ProbeTests
{
    public static TheoryData<string> Services => new() { "wsapp", "wsfunctions" };

    [Theory]
    [MemberData(nameof(Services))]
    public void TheIngressTargetsThePortTheImageListensOn(string service)
    {
        var app = ArmTemplate.ContainerApps()[service];
        var image = Dockerfile.OfService(service);

        Assert.NotNull(image.Port);
        Assert.Equal(image.Port, TargetPort(app));
    }

    [Theory]
    [MemberData(nameof(Services))]
    public void EveryProbeUsesTheTargetPort(string service)
    {
        var app = ArmTemplate.ContainerApps()[service];

        foreach (var probe in Probes(app))
        {
            var port = probe["httpGet"]?["port"] ?? probe["tcpSocket"]?["port"];
            Assert.Equal(TargetPort(app), (int)app.Resolve(port));
        }
    }

    /// <summary>Container Apps refuses a probe outside these (failures 1-10, period and timeout 1-240 s, delay up to 60 s).</summary>
    [Theory]
    [MemberData(nameof(Services))]
    public void EveryProbeIsWithinThePlatformsLimits(string service)
    {
        var app = ArmTemplate.ContainerApps()[service];

        foreach (var probe in Probes(app))
        {
            Assert.InRange((int?)probe["failureThreshold"] ?? 3, 1, 10);
            Assert.InRange((int?)probe["periodSeconds"] ?? 10, 1, 240);
            Assert.InRange((int?)probe["timeoutSeconds"] ?? 1, 1, 240);
            Assert.InRange((int?)probe["initialDelaySeconds"] ?? 1, 0, 60);
        }
    }

    [Theory]
    [MemberData(nameof(Services))]
    public void NoProbeRunsWhileThePlaceholderImageIsInUse(string service)
    {
        var app = ArmTemplate.ContainerApps()[service];
        var container = Container(app);
        var image = (string)container["image"]!;
        var placeholder = PlaceholderChoice().Match(image);
        Assert.True(placeholder.Success, $"{service}: the image should be the placeholder until the first deploy and the deployed one after it, but is {image}");
        Assert.Contains("containerapps-helloworld", (string)app.Resolve(JsonValue.Create($"[{placeholder.Groups[2].Value}]"))!, StringComparison.Ordinal);

        switch (container["probes"])
        {
            case null:
            case JsonArray { Count: 0 }:
                return;
            case JsonValue value when ProbesUnlessPlaceholder().Match((string)value!) is { Success: true } probes:
                Assert.Equal(placeholder.Groups[1].Value, probes.Groups[1].Value);
                return;
            default:
                Assert.Fail($"{service}: probes run whatever the image, the placeholder included: {container["probes"]!.ToJsonString()}");
                return;
        }
    }

    [Theory]
    [MemberData(nameof(Services))]
    public void ProvisioningKeepsTheDeployedImage(string service)
    {
        var parameters = JsonNode.Parse(Repository.Read("infra", "main.parameters.json"))!["parameters"]!.AsObject();
        var exists = parameters.SingleOrDefault(p => (string?)p.Value!["value"] == $"${{SERVICE_{service.ToUpperInvariant()}_RESOURCE_EXISTS=false}}");
        Assert.True(exists.Key is not null, $"main.parameters.json passes no SERVICE_{service.ToUpperInvariant()}_RESOURCE_EXISTS");

        var image = (string)Container(ArmTemplate.ContainerApps()[service])["image"]!;
        Assert.Contains("reference(", image, StringComparison.Ordinal);
    }

    private static JsonObject Container(ModuleResource app) =>
        Assert.Single(app.Properties["template"]!["containers"]!.AsArray())!.AsObject();

    private static int TargetPort(ModuleResource app) => (int)app.Resolve(app.Properties["configuration"]!["ingress"]!["targetPort"]);

    /// <summary>The probes of the real image: the constant list, or the non-placeholder branch of the choice.</summary>
    private static IEnumerable<JsonNode> Probes(ModuleResource app)
    {
        var probes = Container(app)["probes"];
        if (probes is JsonValue value && ProbesUnlessPlaceholder().Match((string)value!) is { Success: true } choice)
        {
            probes = app.Resolve(JsonValue.Create($"[{choice.Groups[2].Value}]"));
        }

        return probes is null ? [] : app.Resolve(probes).AsArray().Select(p => p!);
    }

    /// <summary><c>[if(COND, PLACEHOLDER, …)]</c>: the image is a constant while COND holds.</summary>
    [GeneratedRegex(@"^\[if\(([^,]+), (variables\('[^']+'\)|parameters\('[^']+'\)), ")]
    private static partial Regex PlaceholderChoice();

    /// <summary><c>[if(COND, createArray(), PROBES)]</c>: no probes while COND holds.</summary>
    [GeneratedRegex(@"^\[if\(([^,]+), createArray\(\), (variables\('[^']+'\))\)\]$")]
    private static partial Regex ProbesUnlessPlaceholder();
}
