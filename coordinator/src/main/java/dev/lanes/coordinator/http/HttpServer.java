package dev.lanes.coordinator.http;

import dev.lanes.coordinator.Lead;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lead's HTTP server: the JSON API over its {@link dev.lanes.coordinator.Board}, the change stream, the actions,
 * {@code /metrics}, and the dashboard's files (see {@link Routes} for every route).
 *
 * <p>One Netty event-loop thread serves every connection; nothing it does waits for the lead, since it reads the
 * board's immutable rows. An action is the one thing that waits for the lead's loop, and it waits on a thread of its
 * own (one, with a short queue), never on the event loop.
 *
 * <p>Every request is bounded before it is read: its line ({@value #MAX_LINE} bytes, else 414), headers
 * ({@value #MAX_HEADERS}, else 431), body ({@value #MAX_BODY}, else 413); a connection that says nothing for the idle
 * timeout is closed, and at most {@link Options#maxEventStreams} change streams are open at once (else 503).
 */
public final class HttpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpServer.class);
  static final int MAX_LINE = 4096;
  static final int MAX_HEADERS = 8192;
  static final int MAX_BODY = 64 * 1024;
  /** The dashboard's files in the jar. */
  public static final String DASHBOARD = "dev/lanes/coordinator/http/dashboard/";

  /**
   * How the server runs.
   *
   * @param host the address to bind, {@code 127.0.0.1} unless the dashboard is meant for other machines
   * @param port the port; 0 for a free one
   * @param metricsPublic whether {@code /metrics} is served without the token
   * @param maxEventStreams change streams open at once
   * @param idle how long a connection may say and hear nothing before it is closed
   * @param dashboard where on the class path the dashboard's files are
   */
  public record Options(String host, int port, boolean metricsPublic, int maxEventStreams, Duration idle,
      String dashboard) {
    public Options {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("--http: port " + port + " must be from 0 to 65535");
      }
      if (maxEventStreams < 1) {
        throw new IllegalArgumentException("maxEventStreams: " + maxEventStreams + " must be at least 1");
      }
    }

    /** The defaults on this address. */
    public static Options on(String host, int port) {
      return new Options(host, port, false, 16, Duration.ofSeconds(60), DASHBOARD);
    }

    public Options withMetricsPublic(boolean open) {
      return new Options(host, port, open, maxEventStreams, idle, dashboard);
    }

    public Options withLimits(int streams, Duration idleTimeout) {
      return new Options(host, port, metricsPublic, streams, idleTimeout, dashboard);
    }

    public Options withDashboard(String classPathDir) {
      return new Options(host, port, metricsPublic, maxEventStreams, idle, classPathDir);
    }
  }

  private final EventLoopGroup group;
  private final Channel channel;
  private final ThreadPoolExecutor actions;
  private final Token token;
  private final InetSocketAddress address;

  private HttpServer(EventLoopGroup group, Channel channel, ThreadPoolExecutor actions, Token token) {
    this.group = group;
    this.channel = channel;
    this.actions = actions;
    this.token = token;
    this.address = (InetSocketAddress) channel.localAddress();
  }

  /**
   * Serves {@code lead} on the options' address, with {@code token} guarding the API.
   *
   * @throws IllegalArgumentException when the address cannot be bound (in use, not this machine's)
   */
  public static HttpServer start(Options options, Lead lead, Token token) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, (java.util.concurrent.ThreadFactory) r -> daemon(r, "lanes-http"),
        NioIoHandler.newFactory());
    ThreadPoolExecutor actions = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(32),
        r -> daemon(r, "lanes-http-action"));
    AtomicInteger streams = new AtomicInteger();
    Routes routes = new Routes(lead, options, actions, streams);
    try {
      Channel channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 * 1024, 4 * 1024 * 1024))
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              ch.pipeline()
                  .addLast(new IdleStateHandler(0, 0, options.idle().toMillis(), TimeUnit.MILLISECONDS))
                  .addLast(new HttpServerCodec(MAX_LINE, MAX_HEADERS, 8192))
                  .addLast(new Bounded(MAX_BODY))
                  .addLast(new Handler(routes, token, options));
            }
          })
          .bind(new InetSocketAddress(options.host(), options.port())).syncUninterruptibly().channel();
      HttpServer server = new HttpServer(group, channel, actions, token);
      LOG.info("HTTP API on {}", server.address);
      return server;
    } catch (Exception e) {
      // Netty rethrows a failed bind's BindException unchecked although it is a checked exception: catch it as such.
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      actions.shutdownNow();
      throw new IllegalArgumentException("--http: cannot serve on " + options.host() + ":" + options.port() + ": "
          + e.getMessage(), e);
    }
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Where the server listens (its port, when asked for a free one). */
  public InetSocketAddress address() {
    return address;
  }

  /** The URL of the dashboard, the token in its fragment (which browsers never send to the server). */
  public String dashboardUrl() {
    return baseUrl() + "/#token=" + token.value();
  }

  /** {@code http://HOST:PORT}, an IPv6 address in brackets. */
  public String baseUrl() {
    String host = address.getAddress().getHostAddress();
    return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    actions.shutdownNow();
  }
}
