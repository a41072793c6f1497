using System.Text.Json.Nodes;

namespace ServerlessWs.Infra.Tests;

/// <summary>
/// Regression (issue 18): per-session policy (TTL, log length and age, message size) goes with each store call from
/// the app that makes it, and only WsApp was given Ws settings: an operator who raised the log length still had
/// every admin send trim logs to the default. Both apps now get one list of Ws settings from main.bicep.
/// </summary>
public sealed class SessionPolicyTests
{
    private static readonly string[] PolicySettings = ["SessionTtlSeconds", "LogMaxMessages", "LogMaxAgeSeconds", "MaxMessageBytes"];

    [Fact]
    public void BothAppsGetTheSameSessionPolicySettings()
    {
        var passed = new Dictionary<string, string>();
        // Modules by their symbolic names in main.bicep.
        foreach (var (name, module) in ArmTemplate.Root["resources"]!.AsObject())
        {
            if (module!["properties"]?["parameters"]?["sessionPolicyEnv"] is { } value)
            {
                passed[name] = (string)value["value"]!;
            }
        }

        Assert.Equal(["wsapp", "wsfunctions"], passed.Keys.Order(StringComparer.Ordinal));
        Assert.Single(passed.Values.Distinct(StringComparer.Ordinal));
        foreach (var (service, app) in ArmTemplate.ContainerApps())
        {
            var env = app.Properties["template"]!["containers"]![0]!["env"] is JsonValue expression ? (string)expression! : string.Empty;
            Assert.True(env.Contains("parameters('sessionPolicyEnv')", StringComparison.Ordinal), $"{service}'s containers do not get the session policy settings");
        }
    }

    [Fact]
    public void ThePolicyNamesEveryPerSessionSettingAndSpellsNoDefault()
    {
        var policy = ArmTemplate.Root["variables"]!["sessionPolicy"]!.AsObject();
        Assert.Equal(PolicySettings.Order(StringComparer.Ordinal), policy.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (key, value) in policy)
        {
            var parameter = ((string)value!).Replace("[parameters('", string.Empty, StringComparison.Ordinal).Replace("')]", string.Empty, StringComparison.Ordinal);
            // 0 means "not set": the apps' own default (WsCore's WsOptions) applies, spelled only there.
            Assert.Equal(0, (int)ArmTemplate.Root["parameters"]![parameter]!["defaultValue"]!);
        }
    }
}
