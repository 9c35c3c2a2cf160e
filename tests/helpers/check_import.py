"""Import the built collection with galaxy-importer, as Galaxy and Automation Hub do; fail on any finding.

    GALAXY_IMPORTER_CONFIG=galaxy-importer.cfg python check_import.py cfpages-cloudflare-X.Y.Z.tar.gz

Run with the interpreter that has galaxy-importer (the noxfile's importer venv). The importer
fails an import on hard errors only and logs its checks' findings (ansible-lint's among them) as
warnings; the certification gate is an import with neither, so any WARNING or ERROR line fails here.
"""
import json
import subprocess
import sys
from pathlib import Path


def main(artifact):
    proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", artifact], capture_output=True,
                          text=True, check=False)
    output = proc.stdout + proc.stderr
    print(output)
    findings = [line for line in output.splitlines() if line.startswith(("WARNING:", "ERROR:", "CRITICAL:"))]
    result = Path("importer_result.json")
    if proc.returncode or not result.is_file():
        print(f"galaxy-importer rejected {artifact} (exit {proc.returncode})")
        return 1
    contents = json.loads(result.read_text())["contents"]
    print("galaxy-importer imported %s: %d content item(s): %s" % (
        Path(artifact).name, len(contents), ", ".join(sorted({c["content_type"] for c in contents}))))
    if findings:
        print("%d finding(s):\n%s" % (len(findings), "\n".join(findings)))
        return 1
    print("no findings (ansible-lint, ansible-doc, changelog, metadata)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
