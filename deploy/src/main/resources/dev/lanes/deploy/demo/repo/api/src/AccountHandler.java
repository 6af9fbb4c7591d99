package shop.api;

public final class AccountHandler {
  public String get(String userId) {
    return "{\"userId\": \"" + userId + "\"}";
  }
}
