// Which host a server advertises: the flag, else a named listen host, else the address routed
// toward the peer; loopback (addresses and names that resolve only to it) is told apart from
// addresses other hosts reach.
#include "net/advertised_address.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(AdvertisedAddress, LoopbackAddressesAndNamesAreLoopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.0.1.1"));  // Debian's address for the host name.
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("10.77.1.2"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
}

TEST(AdvertisedAddress, FlagThenNamedListenHostThenTheRouteTowardThePeer) {
  EXPECT_EQ(advertised_host("gpu-07.rack", "0.0.0.0", "127.0.0.1:7070"), "gpu-07.rack");
  EXPECT_EQ(advertised_host("", "10.77.1.2", "127.0.0.1:7070"), "10.77.1.2");
  // A wildcard listen host: the kernel routes toward a loopback peer from 127.0.0.1.
  EXPECT_EQ(advertised_host("", "0.0.0.0", "127.0.0.1:7070"), "127.0.0.1");
  EXPECT_EQ(advertised_host("", "[::]", "127.0.0.1:7070"), "127.0.0.1");
}

TEST(AdvertisedAddress, LoopbackToARemotePeerIsFlagged) {
  EXPECT_TRUE(loopback_to_remote("127.0.0.1:7071", "10.77.1.1:7070"));
  EXPECT_TRUE(loopback_to_remote("localhost", "10.77.1.1:7070"));
  EXPECT_FALSE(loopback_to_remote("127.0.0.1:7071", "127.0.0.1:7070"));
  EXPECT_FALSE(loopback_to_remote("127.0.0.1:7071", "localhost:7070"));
  EXPECT_FALSE(loopback_to_remote("10.77.1.2:7071", "10.77.1.1:7070"));
  EXPECT_FALSE(loopback_to_remote("127.0.0.1:7071", ""));
}

TEST(AdvertisedAddress, HostOfKeepsBracketedIpv6) {
  EXPECT_EQ(host_of("10.77.1.2:7071"), "10.77.1.2");
  EXPECT_EQ(host_of("[::1]:7071"), "[::1]");
  EXPECT_EQ(host_of(":7071"), "");
}

}  // namespace
}  // namespace tg
