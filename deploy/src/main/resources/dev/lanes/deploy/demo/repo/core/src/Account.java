package shop.core;

public record Account(String userId, String name) {
  public String label() {
    return name + " <" + userId + ">";
  }
}
