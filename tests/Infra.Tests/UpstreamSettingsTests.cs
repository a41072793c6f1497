using System.Text.Json.Nodes;

namespace ServerlessWs.Infra.Tests;

/// <summary>
/// The upstream handler's settings as deployed (docs/protocol.md §7): both apps get one list of Upstream settings from
/// main.bicep (WsApp stores events and calls invoke, WsFunctions dispatches), and the signing key reaches each only
/// as a Container Apps secret, from a secure parameter: never a plain environment value.
/// </summary>
public sealed class UpstreamSettingsTests
{
    [Fact]
    public void TheSigningKeyIsASecureParameterAndEachAppsSecretNeverAPlainValue()
    {
        Assert.Equal("securestring", (string)ArmTemplate.Root["parameters"]!["upstreamSigningKey"]!["type"]!);
        var env = Text(ArmTemplate.Root["variables"]!["upstreamEnv"]!);
        Assert.Contains("Upstream__SigningKeys__0", env, StringComparison.Ordinal);
        Assert.Contains("secretRef", env, StringComparison.Ordinal);
        Assert.DoesNotContain("upstreamSigningKey", env, StringComparison.Ordinal);

        foreach (var (service, app) in ArmTemplate.ContainerApps())
        {
            Assert.Equal("securestring", (string)app.Template["parameters"]!["upstreamSigningKey"]!["type"]!);
            var secrets = Text(app.Properties["configuration"]!["secrets"]!);
            Assert.True(secrets.Contains("parameters('upstreamSigningKey')", StringComparison.Ordinal), $"{service} does not keep the signing key as a secret");
            var containerEnv = Text(app.Properties["template"]!["containers"]![0]!["env"]!);
            Assert.True(containerEnv.Contains("parameters('upstreamEnv')", StringComparison.Ordinal), $"{service}'s containers do not get the Upstream settings");
            Assert.DoesNotContain("upstreamSigningKey", containerEnv, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void BothAppsGetTheSameUpstreamSettings()
    {
        var passed = new Dictionary<string, string>();
        foreach (var (name, module) in ArmTemplate.Root["resources"]!.AsObject())
        {
            if (module!["properties"]?["parameters"]?["upstreamEnv"] is { } value)
            {
                passed[name] = (string)value["value"]!;
                Assert.Equal("[parameters('upstreamSigningKey')]", (string)module["properties"]!["parameters"]!["upstreamSigningKey"]!["value"]!);
            }
        }

        Assert.Equal(["wsapp", "wsfunctions"], passed.Keys.Order(StringComparer.Ordinal));
        Assert.Single(passed.Values.Distinct(StringComparer.Ordinal));
    }

    /// <summary>A template value as its text: an expression string as is, an object or array as JSON without escapes.</summary>
    private static string Text(JsonNode node) =>
        node is JsonValue value
            ? (string)value!
            : node.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
