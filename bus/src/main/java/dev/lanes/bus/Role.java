package dev.lanes.bus;

import dev.lanes.protocol.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The parties that speak on a secured bus, and what each may do there: the ACLs a broker with an authorizer grants a
 * principal of that role, and nothing else (every role reads and writes only the topics its code uses; READ and WRITE
 * imply DESCRIBE, and WRITE on a topic is what an idempotent producer needs since Kafka 3.0).
 *
 * <ul>
 *   <li>The lead writes offers, grants and cancels on {@code lanes.work} and its decisions on {@code lanes.events},
 *       reads the reports as the member of its group and answers some of them there (findings of the kinds only it
 *       sends), replays its log, and sets bad records aside.</li>
 *   <li>A worker reads {@code lanes.work}, writes claims, heartbeats, results and findings on {@code lanes.reports},
 *       and sets aside what it could not read from {@code lanes.work}.</li>
 *   <li>A submitter ({@code lanes submit}, {@code lanes status}) hands a plan in on {@code lanes.reports}, follows
 *       the run on {@code lanes.events}, sets aside an event it refuses, and may see how many records
 *       {@code lanes.dead} holds (not read them) and which member of the leads' group serves.</li>
 * </ul>
 * No role may create or delete topics, alter configurations or ACLs: the broker makes the topics itself.
 */
public enum Role {
  LEAD,
  WORKER,
  SUBMIT;

  /** The role's name as it appears in principals and client files: {@code lead}, {@code worker}, {@code submit}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The ACLs that give {@code principal} (a user name) this role. */
  public List<AclBinding> acls(String principal) {
    List<AclBinding> acls = new ArrayList<>();
    switch (this) {
      case LEAD:
        allow(acls, principal, ResourceType.TOPIC, Topics.WORK, AclOperation.WRITE);
        allow(acls, principal, ResourceType.TOPIC, Topics.EVENTS, AclOperation.WRITE);
        allow(acls, principal, ResourceType.TOPIC, Topics.EVENTS, AclOperation.READ);
        allow(acls, principal, ResourceType.TOPIC, Topics.REPORTS, AclOperation.READ);
        // Its answers to reports (a refused delta, revision or result) are findings, on the reports topic.
        allow(acls, principal, ResourceType.TOPIC, Topics.REPORTS, AclOperation.WRITE);
        allow(acls, principal, ResourceType.TOPIC, Topics.DEAD, AclOperation.WRITE);
        allow(acls, principal, ResourceType.GROUP, Topics.LEAD_GROUP, AclOperation.READ);
        break;
      case WORKER:
        allow(acls, principal, ResourceType.TOPIC, Topics.WORK, AclOperation.READ);
        allow(acls, principal, ResourceType.TOPIC, Topics.REPORTS, AclOperation.WRITE);
        allow(acls, principal, ResourceType.TOPIC, Topics.DEAD, AclOperation.WRITE);
        break;
      case SUBMIT:
        allow(acls, principal, ResourceType.TOPIC, Topics.REPORTS, AclOperation.WRITE);
        allow(acls, principal, ResourceType.TOPIC, Topics.EVENTS, AclOperation.READ);
        // Setting aside an event it refused; with it, the dead letters' offsets for lanes status to count (WRITE
        // implies DESCRIBE), not their contents.
        allow(acls, principal, ResourceType.TOPIC, Topics.DEAD, AclOperation.WRITE);
        // Who is in the leads' group, for lanes status to say whether a lead serves; not its offsets to change.
        allow(acls, principal, ResourceType.GROUP, Topics.LEAD_GROUP, AclOperation.DESCRIBE);
        break;
      default:
        throw new IllegalStateException("no ACLs for role " + this);
    }
    return List.copyOf(acls);
  }

  private static void allow(List<AclBinding> acls, String principal, ResourceType type, String name,
      AclOperation operation) {
    acls.add(new AclBinding(new ResourcePattern(type, name, PatternType.LITERAL),
        new AccessControlEntry("User:" + principal, "*", operation, AclPermissionType.ALLOW)));
  }
}
