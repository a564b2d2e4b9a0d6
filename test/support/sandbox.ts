// Placeholder replaced by the sandbox harness.
export async function stopSharedSandbox(): Promise<void> {}
