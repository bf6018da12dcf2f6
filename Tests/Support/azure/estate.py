#!/usr/bin/env python3
"""Builds the estates the loopback ARM (azure_peer.py) answers from.

  estate.py vectors VECTORS_DIR OUT.json
      Every subscription of the official GetSubscriptions example, each answering the official
      list examples (unmodified files, read here) for its resource types, and the official
      get examples for the per-resource calls (blob service properties, SQL auditing, …);
      fixtures/azure/vectors-extra.json supplies what the examples lack.
  estate.py seeded SEEDED.json OUT.json
      fixtures/azure/seeded.json: resources written on the official examples' shapes, listed
      per subscription and path (see that file).

The estate maps a lower-cased request path to {"items": [...]} (a list ARM pages), {"body": …}
(a get) or {"status": n, "body": …} (an error answer).
"""
import json
import os
import sys
import urllib.parse


def load(vectors, name):
    with open(os.path.join(vectors, name)) as f:
        return json.load(f)


def body(vectors, name):
    return load(vectors, name)["responses"]["200"]["body"]


def items(vectors, name):
    return body(vectors, name)["value"]


def fill(template, placeholder, value):
    return json.loads(json.dumps(template).replace(placeholder, value))


def vectors_estate(vectors, extra):
    paths = {}
    subscriptions = items(vectors, "Microsoft.Resources/2022-12-01/GetSubscriptions.json")
    paths["/subscriptions"] = {"items": subscriptions}
    lists = {
        "providers/microsoft.storage/storageaccounts": "Microsoft.Storage/2025-08-01/StorageAccountList.json",
        "providers/microsoft.network/networksecuritygroups": "Microsoft.Network/2025-07-01/NetworkSecurityGroupListAll.json",
        "providers/microsoft.network/virtualnetworks": "Microsoft.Network/2025-07-01/VirtualNetworkListAll.json",
        "providers/microsoft.network/networkwatchers": "Microsoft.Network/2025-07-01/NetworkWatcherListAll.json",
        "providers/microsoft.compute/disks": "Microsoft.Compute/2025-01-02/Disk_ListBySubscription.json",
        "providers/microsoft.compute/virtualmachines": "Microsoft.Compute/2026-04-01/VirtualMachine_ListAll_MinimumSet_Gen.json",
        "providers/microsoft.keyvault/vaults": "Microsoft.KeyVault/2026-02-01/listVaultBySubscription.json",
        "providers/microsoft.sql/servers": "Microsoft.Sql/2025-01-01/ServerList.json",
        "providers/microsoft.web/sites": "Microsoft.Web/2025-05-01/ListWebApps.json",
        "providers/microsoft.insights/diagnosticsettings": "Microsoft.Insights/2021-05-01-preview/listSubscriptionDiagnosticSettings.json",
        "providers/microsoft.insights/activitylogalerts": "Microsoft.Insights/2026-01-01/ActivityLogAlertRule_ListBySubscriptionId.json",
        "providers/microsoft.security/pricings": "Microsoft.Security/2026-07-01/ListPricings_example.json",
        "providers/microsoft.security/securitycontacts": "Microsoft.Security/2023-12-01-preview/GetSecurityContactsSubscription_example.json",
        "providers/microsoft.authorization/roleassignments": "Microsoft.Authorization/2022-04-01/RoleAssignments_ListForSubscription.json",
        "providers/microsoft.containerservice/managedclusters": "Microsoft.ContainerService/2026-06-01/ManagedClustersList.json",
    }
    blob = body(vectors, "Microsoft.Storage/2026-04-01/BlobServicesGet.json")
    auditing = body(vectors, "Microsoft.Sql/2025-01-01/ServerBlobAuditingGet.json")
    firewall = items(vectors, "Microsoft.Sql/2025-01-01/FirewallRuleList.json")
    diagnostics = items(vectors, "Microsoft.Insights/2021-05-01-preview/listDiagnosticSettings.json")
    role_definitions = items(vectors, "Microsoft.Authorization/2022-04-01/GetRoleDefinitionAtScope.json")
    for s in subscriptions:
        base = f"/subscriptions/{s['subscriptionId']}".lower()
        paths[base] = {"body": s}
        paths[base + "/resourcegroups"] = {"items": [body(vectors, "Microsoft.Resources/2025-04-01/ResourceGroups_Get.json")]}
        for suffix, name in lists.items():
            paths[f"{base}/{suffix}"] = {"items": items(vectors, name)}
        paths[f"{base}/providers/microsoft.authorization/roledefinitions"] = {"items": role_definitions}
        for suffix in extra["empty_lists"]:
            paths[f"{base}/{suffix}"] = {"items": []}
    # Per-resource answers, keyed by the ids the lists give.
    for account in items(vectors, "Microsoft.Storage/2025-08-01/StorageAccountList.json"):
        paths[account["id"].lower() + "/blobservices/default"] = {"body": blob}
        paths[account["id"].lower() + "/blobservices/default/providers/microsoft.insights/diagnosticsettings"] = {"items": diagnostics}
    for server in items(vectors, "Microsoft.Sql/2025-01-01/ServerList.json"):
        sid = server["id"].lower()
        paths[sid + "/auditingsettings/default"] = {"body": auditing}
        paths[sid + "/firewallrules"] = {"items": firewall}
        paths[sid + "/administrators"] = {"items": []}
        paths[sid + "/databases"] = {"items": []}
        paths[sid + "/encryptionprotector/current"] = {"body": fill(extra["sql_encryption_protector"], "{server}", server["id"])}
    for vault in items(vectors, "Microsoft.KeyVault/2026-02-01/listVaultBySubscription.json"):
        paths[vault["id"].lower() + "/providers/microsoft.insights/diagnosticsettings"] = {"items": diagnostics}
        paths[vault["id"].lower() + "/keys"] = {"items": []}
        paths[vault["id"].lower() + "/secrets"] = {"items": []}
    for vm in items(vectors, "Microsoft.Compute/2026-04-01/VirtualMachine_ListAll_MinimumSet_Gen.json"):
        paths[vm["id"].lower() + "/extensions"] = {"items": []}
    for watcher in items(vectors, "Microsoft.Network/2025-07-01/NetworkWatcherListAll.json"):
        paths[watcher["id"].lower() + "/flowlogs"] = {"items": []}
    for site in items(vectors, "Microsoft.Web/2025-05-01/ListWebApps.json"):
        paths[site["id"].lower() + "/config/authsettingsv2"] = {"body": fill(extra["site_auth_settings_v2"], "{site}", site["id"])}
        paths[site["id"].lower() + "/config/web"] = {"body": {"id": site["id"] + "/config/web", "properties": site["properties"].get("siteConfig") or {}}}
    for path, route in list(extra.get("graph", {}).items()) + list(extra.get("management", {}).items()):
        paths[path.lower()] = route
    return {"paths": paths}


def seeded_estate(seeded):
    """fixtures/azure/seeded.json: {"subscriptions": [...], "paths": {path: {"items"|"body": …}}}."""
    paths = {"/subscriptions": {"items": seeded["subscriptions"]}}
    for s in seeded["subscriptions"]:
        paths[f"/subscriptions/{s['subscriptionId']}".lower()] = {"body": s}
    for path, route in seeded["paths"].items():
        paths[path.lower()] = route
    # The good tenant's Graph answers, served in place of the bad tenant's on a second scan.
    return {"paths": paths, "good_tenant": {k.lower(): v for k, v in seeded.get("good_tenant", {}).items()}}


def add_vault_data_plane(paths):
    """Each vault's keys and secrets as its data plane lists them (`GET {vaultUri}keys`,
    `{vaultUri}secrets`, `{kid}/rotationpolicy`), from the ARM key and secret lists of the estate.
    A data-plane path is the vault's host then its path (`/kv.vault.azure.net/keys`), as attest
    sends it through ATTEST_AZURE_KEYVAULT_ENDPOINT."""
    vaults = [item for route in list(paths.values()) for item in route.get("items", [])
              if isinstance(item, dict) and item.get("type") == "Microsoft.KeyVault/vaults"]
    for vault in vaults:
        host = urllib.parse.urlsplit(vault["properties"]["vaultUri"]).hostname.lower()
        keys, secrets = [], []
        for key in paths.get(vault["id"].lower() + "/keys", {}).get("items", []):
            kid = f"https://{host}/keys/{key['name']}"
            keys.append({"kid": kid, "attributes": key["properties"].get("attributes", {}), "tags": key.get("tags", {}), "managed": False})
            policy = key["properties"].get("rotationPolicy") or {
                "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}], "attributes": {"expiryTime": None}}
            paths[f"/{host}/keys/{key['name']}/rotationpolicy".lower()] = {"body": {"id": kid + "/rotationpolicy", **policy}}
        for secret in paths.get(vault["id"].lower() + "/secrets", {}).get("items", []):
            secrets.append({"id": f"https://{host}/secrets/{secret['name']}", "attributes": secret["properties"].get("attributes", {}),
                            "contentType": secret["properties"].get("contentType"), "tags": secret.get("tags", {}), "managed": False})
        paths[f"/{host}/keys"] = {"items": keys}
        paths[f"/{host}/secrets"] = {"items": secrets}
    return paths


if __name__ == "__main__":
    mode, source, out = sys.argv[1:4]
    here = os.path.dirname(os.path.abspath(__file__))
    if mode == "vectors":
        extra = json.load(open(os.path.join(here, "..", "..", "..", "fixtures", "azure", "vectors-extra.json")))
        estate = vectors_estate(source, extra)
    else:
        estate = seeded_estate(json.load(open(source)))
    add_vault_data_plane(estate["paths"])
    with open(out, "w") as f:
        json.dump(estate, f)
