package io.pegasus.hadoop.contract;

import io.pegasus.hadoop.TestServer;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.contract.AbstractBondedFSContract;

/**
 * Hadoop's contract binding for pegasus://: the options in contract/pegasus.xml, and the
 * file system of one real server started for this JVM (port 0, temporary data directory)
 * on first use and stopped when the JVM exits. Surefire runs the contract classes one
 * after another in one JVM (the pom's forkCount 1), so they share the server; the root
 * directory tests empty its root.
 */
public class PegasusContract extends AbstractBondedFSContract {
  public static final String CONTRACT_XML = "contract/pegasus.xml";

  private static TestServer server;

  /** The JVM's server, started on first use. */
  public static synchronized TestServer server() throws IOException {
    if (server == null) {
      TestServer s = TestServer.start();
      Runtime.getRuntime().addShutdownHook(new Thread(s::close, "pegasus-test-server-stop"));
      server = s;
    }
    return server;
  }

  public PegasusContract(Configuration conf) {
    super(conf);
    addConfResource(CONTRACT_XML);
    try {
      getConf().set("fs.contract.test.fs." + getScheme(), "pegasus://" + server().address());
    } catch (IOException e) {
      throw new IllegalStateException("could not start a pegasus server", e);
    }
  }

  @Override
  public String getScheme() {
    return "pegasus";
  }
}
