// Plugin log lines (JSON, secrets masked) are quiet in tests unless asked for.
process.env.VK_PAY_LOG_LEVEL ??= 'error';
// Provider times are Asia/Shanghai whatever the host says: every run, even a lone `npx jest path`, runs under UTC.
process.env.TZ = 'UTC';
