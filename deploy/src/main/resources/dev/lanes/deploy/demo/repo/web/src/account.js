export function accountUrl(userId) {
  return `/accounts/${userId}`;
}
