"""The network side of a game: wire protocol, host, player client, transports, bots and the CLI.

May import game/, signaling/ and turn/.
"""
