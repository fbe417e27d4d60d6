// Crypto-currency miners: pool URLs and the option and algorithm names that miners carry in
// their binaries and configuration files.
rule cryptominer_pool_url
{
    meta:
        description = "crypto-currency miner: stratum mining-pool URL"
        severity = "high"
        family = "cryptominer"
    strings:
        $tcp = "stratum+tcp://" nocase
        $ssl = "stratum+ssl://" nocase
        $tls = "stratum+tls://" nocase
        $v2 = "stratum2+tcp://" nocase
    condition:
        any of them
}

rule cryptominer_xmrig
{
    meta:
        description = "crypto-currency miner: XMRig or a derivative"
        severity = "high"
        family = "cryptominer"
    strings:
        $name = "xmrig" nocase
        $donate_opt = "--donate-level"
        $donate_key = "\"donate-level\""
        $cn = "cryptonight" nocase
        $rx = "randomx" nocase
        $subscribe = "mining.subscribe"
        $nicehash = "nicehash" nocase
    condition:
        $name and 2 of ($donate_opt, $donate_key, $cn, $rx, $subscribe, $nicehash)
}

rule cryptominer_generic_stratum_client
{
    meta:
        description = "crypto-currency miner: stratum protocol client"
        severity = "high"
        family = "cryptominer"
    strings:
        $subscribe = "mining.subscribe"
        $authorize = "mining.authorize"
        $submit = "mining.submit"
        $notify = "mining.notify"
    condition:
        3 of them
}
