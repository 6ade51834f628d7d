/** The floor's activities do nothing: their cost is Temporal's (schedule, start, complete). */
export async function floorIngest(scanId: string): Promise<string> {
  return scanId;
}

export async function floorRelease(scanId: string): Promise<string> {
  return scanId;
}
