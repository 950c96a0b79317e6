# Uploads the current user's MCP inventory to the mcpgov gateway. Deploy as
# an Intune platform script (run as the logged-on user) or register it as a
# daily scheduled task:
#   Register-ScheduledTask -TaskName "mcpgov scan" -Trigger (New-ScheduledTaskTrigger -Daily -At 10am) `
#     -Action (New-ScheduledTaskAction -Execute "powershell.exe" -Argument "-NoProfile -File C:\ProgramData\mcpgov\mcpgov-scan-upload.ps1")
# A fleet service token, when the file exists, is read here so it never
# appears on a command line.
$ErrorActionPreference = "Stop"
$mcpgov = Join-Path $env:ProgramFiles "mcpgov\mcpgov.exe"
$tokenFile = Join-Path $env:ProgramData "mcpgov\fleet-token"
if (Test-Path $tokenFile) {
    $env:MCPGOV_TOKEN = (Get-Content -Raw $tokenFile).Trim()
}
& $mcpgov scan --upload --format plain
exit $LASTEXITCODE
