SELECT * FROM read_text('/etc/hostname')
