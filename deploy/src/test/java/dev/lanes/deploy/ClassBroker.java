package dev.lanes.deploy;

import dev.lanes.bus.EmbeddedBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One embedded broker for a test class, in a temporary directory that goes with it:
 * {@code @RegisterExtension static final ClassBroker BROKER = new ClassBroker();}
 */
final class ClassBroker implements BeforeAllCallback, AfterAllCallback {
  private Path dir;
  private EmbeddedBroker broker;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("lanes-it-broker");
    broker = EmbeddedBroker.start(dir);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    broker.close();
    LocalCluster.deleteTree(dir);
  }

  EmbeddedBroker broker() {
    return broker;
  }
}
