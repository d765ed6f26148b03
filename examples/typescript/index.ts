// One GPU cluster behind the tailnet, from TypeScript: an HA ProxyGroup for kubectl, session
// recording for admins, readers bound to `view`, and this program as the only writer of the
// tailnet policy file (the rest of the policy stays in base-policy.hujson).
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as tailscaleClusterAccess from "@pulumi/tailscale-cluster-access";

const config = new pulumi.Config();

const cluster = new tailscaleClusterAccess.SecureClusterAccess("gpu-prod", {
    cluster: "gpu-prod",
    proxy: { highAvailability: true, replicas: 2 },
    groups: {
        "group:ml-engineers": ["alice@example.com"],
        "group:ml-readers": ["bob@example.com"],
    },
    access: [
        { src: ["group:ml-engineers"], kubernetesGroups: ["system:masters"], recordSessions: true },
        { src: ["group:ml-readers"], kubernetesGroups: ["tailnet-readers"] },
    ],
    roleBindings: [{ group: "tailnet-readers", clusterRole: "view" }],
    // Fine for a first `up`; on a running stack turn recording on in two steps (recorder
    // first, then recordSessions; docs/runbooks.md).
    sessionRecording: { enabled: true, enforce: true },
    // A secret Output crosses into the component as a secret and stays one.
    oauth: {
        clientId: config.require("oauthClientId"),
        clientSecret: config.requireSecret("oauthClientSecret"),
    },
    // The component writes the policy file itself (base + its own entries), so it can order
    // the first `pulumi up`: the policy that defines the tags, then the credentials, the
    // operator and the ProxyGroup/Recorder that log in with those tags. The text is read here
    // because a path would be resolved in the plugin's folder, not this project's.
    // A tailnet whose policy file Pulumi did not write: the first `pulumi up` refuses to
    // overwrite it. Export it into base-policy.hujson, then import it or set
    // `adoptExisting: true` here once, knowingly (docs/policy.md, "Adopting an existing tailnet").
    policy: { baseText: fs.readFileSync("base-policy.hujson", "utf8") },
    tailnetDomain: config.get("tailnetDomain") || undefined,
});

export const kubeconfigCommand = cluster.kubeconfigCommand;
export const proxyUrl = cluster.proxyUrl;
export const accessMatrix = cluster.accessMatrix;
