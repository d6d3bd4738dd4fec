// Plugin log lines (JSON, secrets masked) are quiet in tests unless asked for.
process.env.VK_PAY_LOG_LEVEL ??= 'error';
