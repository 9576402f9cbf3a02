/* `evproxy link`: share links for the users of a config's inbounds (README "Share links"). */
#ifndef EVP_LINK_CMD_H
#define EVP_LINK_CMD_H

/* argv[0] is "link". Returns the exit status: 0 when every link asked for was printed. */
int evp_link_main(int argc, char **argv);

#endif
