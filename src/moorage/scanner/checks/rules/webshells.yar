// Web shells: server-side scripts that run what an HTTP request tells them to. Each rule needs
// the script's own opening tag plus code that hands request data to an evaluator or a shell,
// which legitimate applications do not do.
rule php_webshell_request_eval
{
    meta:
        description = "PHP web shell: evaluates or executes data from the HTTP request"
        severity = "critical"
        family = "webshell"
    strings:
        $php = "<?" 
        $call = /(eval|assert|system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec|create_function)\s*\(\s*@?\s*((base64_decode|gzinflate|gzuncompress|str_rot13|stripslashes|urldecode)\s*\(\s*)*\$_(GET|POST|REQUEST|COOKIE|SERVER\s*\[\s*['"]HTTP_)/ nocase
        $preg = /preg_replace\s*\(\s*['"]\/[^'"\n]{0,64}\/[a-z]*e[a-z]*['"]\s*,\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $backtick = /`\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[/
    condition:
        $php and any of ($call, $preg, $backtick)
}

rule php_webshell_known_kits
{
    meta:
        description = "PHP web shell kit (c99, r57, b374k, WSO)"
        severity = "critical"
        family = "webshell"
    strings:
        $php = "<?"
        $c99 = "c99shell" nocase
        $r57 = "r57shell" nocase
        $b374k = "b374k" nocase
        $wso_a = "FilesMan"
        $wso_b = "WSO_VERSION"
    condition:
        $php and ($c99 or $r57 or $b374k or ($wso_a and $wso_b))
}

rule jsp_webshell_request_exec
{
    meta:
        description = "JSP web shell: runs a command taken from the HTTP request"
        severity = "critical"
        family = "webshell"
    strings:
        $tag = "<%"
        $exec = /Runtime\.getRuntime\(\)\.exec\(\s*request\.getParameter\(/
        $pb = /new\s+ProcessBuilder\s*\(\s*(new\s+String\[\]\s*\{[^}]{0,80})?request\.getParameter\(/
    condition:
        $tag and ($exec or $pb)
}

rule asp_webshell_request_eval
{
    meta:
        description = "ASP/ASPX web shell: evaluates code taken from the HTTP request"
        severity = "critical"
        family = "webshell"
    strings:
        $eval = /<%@?\s*[^%]{0,80}\b(eval|execute|executeglobal)\s*\(?\s*request\s*[\.\(\[]/ nocase
    condition:
        $eval
}
