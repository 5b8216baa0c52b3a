SELECT * FROM glob('/etc/*')
